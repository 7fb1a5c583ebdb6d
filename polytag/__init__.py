"""polytag: multitask NLP over one shared transformer encoder, with Flair's API names."""

__version__ = "0.1.0"
