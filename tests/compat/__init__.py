"""Flair-shaped usage programs for the flairapi slice: splitters, tokenizers, embeddings, corpora."""
