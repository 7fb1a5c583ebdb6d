"""Flair's multitask tutorial, example 1, with the import renamed: POS tagging + chunking, one encoder.

The tutorial's "distilbert-base-uncased" would be downloaded; here the encoder defaults to the shipped
all-MiniLM-L6-v2 (set POLYTAG_EXAMPLE_ENCODER to use another). POLYTAG_EXAMPLE_FRACTION overrides the
tutorial's 0.1 downsampling (the tests use a smaller share and a tiny encoder).
"""

import os

from polytag.data import Sentence
from polytag.datasets import CONLL_2000, UD_ENGLISH
from polytag.embeddings import TransformerWordEmbeddings
from polytag.models import MultitaskModel, TokenClassifier
from polytag.nn.multitask import make_multitask_model_and_corpus
from polytag.trainers import ModelTrainer

ENCODER = os.environ.get("POLYTAG_EXAMPLE_ENCODER", "sentence-transformers/all-MiniLM-L6-v2")
FRACTION = float(os.environ.get("POLYTAG_EXAMPLE_FRACTION", "0.1"))
OUTPUT = os.environ.get("POLYTAG_EXAMPLE_OUTPUT", "resources/taggers/multitask_test")

# --- Embeddings that are shared by both models --- #
shared_embedding = TransformerWordEmbeddings(ENCODER, fine_tune=True)

# --- Task 1: Part-of-Speech tagging --- #
corpus_1 = UD_ENGLISH().downsample(FRACTION)
model_1 = TokenClassifier(
    shared_embedding, label_dictionary=corpus_1.make_label_dictionary("pos"), label_type="pos"
)

# -- Task 2: Syntactic Chunking -- #
corpus_2 = CONLL_2000().downsample(FRACTION)
model_2 = TokenClassifier(
    shared_embedding, label_dictionary=corpus_2.make_label_dictionary("np"), label_type="np"
)

# -- Define mapping (which tagger should train on which model) -- #
multitask_model, multicorpus = make_multitask_model_and_corpus([(model_1, corpus_1), (model_2, corpus_2)])

# -- Create model trainer and train -- #
trainer = ModelTrainer(multitask_model, multicorpus)
trainer.fine_tune(OUTPUT, max_epochs=1)

# --- Prediction with the saved model --- #
model = MultitaskModel.load(f"{OUTPUT}/final-model.pt")
sentence = Sentence("Mr Smith loves New York")
model.predict(sentence)
print(sentence)

print("\nPart of speech tags are: ")
for label in sentence.get_labels("pos"):
    print(f'"{label.data_point.text}" {label.value}')

print("\nChunks are: ")
for label in sentence.get_labels("np"):
    print(f'"{label.data_point.text}" {label.value}')
