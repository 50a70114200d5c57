"""Fine-tuning: train a translator on a curated (or raw) set and measure it, so a curator sees whether curation paid."""
