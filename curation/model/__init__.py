"""The learned filter: features of a pair, the encoder under them, training, the model folder, prediction."""
