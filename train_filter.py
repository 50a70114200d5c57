"""Train the learned filter on judged pairs and pre-rank the rest in Argilla. See `python train_filter.py --help`."""

from curation.cli import main

if __name__ == "__main__":
    main(["train", *__import__("sys").argv[1:]], prog_name="train_filter.py")
