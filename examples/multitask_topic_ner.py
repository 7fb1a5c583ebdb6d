"""Flair's multitask tutorial, example 2, with the import renamed: topics (sentence) + NER (tokens).

One encoder gives both the token vectors and the document vector in one pass. The encoder defaults to
the shipped all-MiniLM-L6-v2 (POLYTAG_EXAMPLE_ENCODER overrides it); CLEANCONLL falls back to the
CoNLL-03 files when the CleanCoNLL folder is absent (logged).
"""

import os

from polytag.data import Sentence
from polytag.datasets import AGNEWS, CLEANCONLL
from polytag.embeddings import TransformerEmbeddings
from polytag.models import MultitaskModel, TextClassifier, TokenClassifier
from polytag.nn.multitask import make_multitask_model_and_corpus
from polytag.trainers import ModelTrainer

ENCODER = os.environ.get("POLYTAG_EXAMPLE_ENCODER", "sentence-transformers/all-MiniLM-L6-v2")
TOPIC_FRACTION = float(os.environ.get("POLYTAG_EXAMPLE_TOPIC_FRACTION", "0.01"))
NER_FRACTION = float(os.environ.get("POLYTAG_EXAMPLE_FRACTION", "0.1"))
OUTPUT = os.environ.get("POLYTAG_EXAMPLE_OUTPUT", "resources/taggers/multitask_news_data")

# --- Embeddings that are shared by both models --- #
# use a transformer that can do both: sentence-embedding and word-embedding
shared_embedding = TransformerEmbeddings(
    ENCODER, fine_tune=True, is_token_embedding=True, is_document_embedding=True
)

# --- Task 1: Newswire topics, use a TextClassifier for this task --- #
corpus_1 = AGNEWS().downsample(TOPIC_FRACTION)
model_1 = TextClassifier(
    shared_embedding, label_dictionary=corpus_1.make_label_dictionary("topic"), label_type="topic"
)

# -- Task 2: Named entities on newswire data, use a TokenClassifier for this task --- #
corpus_2 = CLEANCONLL().downsample(NER_FRACTION)
model_2 = TokenClassifier(
    shared_embedding, label_dictionary=corpus_2.make_label_dictionary("ner"), label_type="ner"
)

# -- Define mapping (which tagger should train on which model) -- #
multitask_model, multicorpus = make_multitask_model_and_corpus([(model_1, corpus_1), (model_2, corpus_2)])

# -- Create model trainer and train -- #
trainer = ModelTrainer(multitask_model, multicorpus)
trainer.fine_tune(OUTPUT, max_epochs=1)

# --- Prediction with the saved model --- #
model = MultitaskModel.load(f"{OUTPUT}/final-model.pt")
sentence = Sentence("IBM made a lot of profit.")
model.predict(sentence)
print(sentence)
