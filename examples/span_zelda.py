"""Flair's span classifier tutorial, first program, with the import renamed: entity linking on ZELDA.

ZELDA's training file is not part of the shared data; ``python bench/aida_nel.py --write-zelda DIR``
writes a folder in ZELDA's layout (AIDA train as ``zelda_train.conll``, ZELDA's real AIDA-B test file
and the candidate list) and ``POLYTAG_DATASETS=DIR`` points ``ZELDA()`` and ``CandidateGenerator("zelda")``
at it. Environment knobs keep the run short on a CPU: POLYTAG_EXAMPLE_ENCODER (default: the shipped
all-MiniLM-L6-v2 instead of bert-base-uncased), POLYTAG_EXAMPLE_FRACTION (share of the corpus, default
0.1), POLYTAG_EXAMPLE_EPOCHS (default 1), POLYTAG_EXAMPLE_OUTPUT.
"""

import os

from polytag.data import Sentence
from polytag.datasets import ZELDA
from polytag.embeddings import TransformerWordEmbeddings
from polytag.models import SpanClassifier
from polytag.models.entity_linker_model import CandidateGenerator
from polytag.nn.decoder import PrototypicalDecoder
from polytag.trainers import ModelTrainer

ENCODER = os.environ.get("POLYTAG_EXAMPLE_ENCODER", "sentence-transformers/all-MiniLM-L6-v2")
FRACTION = float(os.environ.get("POLYTAG_EXAMPLE_FRACTION", "0.1"))
EPOCHS = int(os.environ.get("POLYTAG_EXAMPLE_EPOCHS", "1"))
OUTPUT = os.environ.get("POLYTAG_EXAMPLE_OUTPUT", "resources/taggers/zelda-nel")

# 1. get the corpus
corpus = ZELDA().downsample(FRACTION)

# 2. what label do we want to predict?
label_type = "nel"

# 3. make the label dictionary from the corpus
label_dict = corpus.make_label_dictionary(label_type=label_type, add_unk=True)

# 4. initialize fine-tuneable transformer embeddings WITH document context
embeddings = TransformerWordEmbeddings(
    model=ENCODER,
    layers="-1",
    subtoken_pooling="first",
    fine_tune=True,
    use_context=True,
)

# 5. initialize bare-bones sequence tagger (no CRF, no RNN, no reprojection)
tagger = SpanClassifier(
    embeddings,
    label_dictionary=label_dict,
    label_type=label_type,
    decoder=PrototypicalDecoder(
        num_prototypes=len(label_dict),
        embeddings_size=embeddings.embedding_length * 2,  # we use "first_last" encoding for spans
        distance_function="dot_product",
        normal_distributed_initial_prototypes=True,
    ),
    candidates=CandidateGenerator("zelda"),
)

# 6. initialize trainer
trainer = ModelTrainer(tagger, corpus)

# 7. run fine-tuning
trainer.fine_tune(
    OUTPUT,
    learning_rate=5e-6,
    mini_batch_chunk_size=1,  # remove this parameter to speed up computation if you have a big GPU
    max_epochs=EPOCHS,
)

# 8. link the mentions of a new sentence with the saved model
model = SpanClassifier.load(f"{OUTPUT}/final-model.pt")
sentence = Sentence("JAPAN beat CHINA in the Asian Cup in Beirut .")
sentence[0:1].add_label("nel", "?")
sentence[2:3].add_label("nel", "?")
model.predict(sentence)
print(sentence)
