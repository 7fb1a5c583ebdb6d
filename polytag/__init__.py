"""polytag: multitask NLP over one shared transformer encoder, with Flair's API names.

Flair's module paths that are not polytag packages of their own (``polytag.trainers``,
``polytag.nn.multitask``, ``polytag.models.entity_linker_model``) are tiny shims resolved lazily from
one table, :mod:`polytag.flair_paths`, which also states the package's layer order.
"""

__version__ = "0.1.0"
