"""Flair's span classifier tutorial: an entity linking corpus in column format, read with ColumnCorpus.

Column 0 is the token, column 1 the BIO-tagged entity of the spans to classify. POLYTAG_EXAMPLE_DATA
names a folder with train/dev/test files in this format; without it the example writes the tutorial's
two sentences (a few times over) into a temporary folder, trains a linker briefly and links a sentence.
POLYTAG_EXAMPLE_ENCODER overrides the encoder (default: the shipped all-MiniLM-L6-v2).
"""

import os
import tempfile
from pathlib import Path

from polytag.data import Corpus, Sentence
from polytag.datasets import ColumnCorpus
from polytag.embeddings import TransformerWordEmbeddings
from polytag.models import SpanClassifier
from polytag.models.entity_linker_model import CandidateGenerator
from polytag.trainers import ModelTrainer

ENCODER = os.environ.get("POLYTAG_EXAMPLE_ENCODER", "sentence-transformers/all-MiniLM-L6-v2")
SAMPLE = """George B-George_Washington
Washington I-George_Washington
went O
to O
Washington B-Washington_D_C

Sam B-Sam_Houston
Houston I-Sam_Houston
stayed O
home O

"""

data_folder = os.environ.get("POLYTAG_EXAMPLE_DATA")
if data_folder is None:
    data_folder = tempfile.mkdtemp(prefix="polytag-nel-")
    for name in ("train.txt", "dev.txt", "test.txt"):
        Path(data_folder, name).write_text(SAMPLE * 4, encoding="utf-8")

# define columns
columns = {0: "text", 1: "nel"}

# init a corpus using column format, data folder and the names of the train, dev and test files
corpus: Corpus = ColumnCorpus(data_folder, columns)
print(corpus)

# candidates counted from the training spans (mention -> entities it was linked to)
candidates = CandidateGenerator.from_corpus(corpus, "nel")
label_dict = corpus.make_label_dictionary("nel", add_unk=True)
embeddings = TransformerWordEmbeddings(ENCODER, fine_tune=True)
linker = SpanClassifier(embeddings, label_dictionary=label_dict, label_type="nel", candidates=candidates)

output = os.environ.get("POLYTAG_EXAMPLE_OUTPUT", tempfile.mkdtemp(prefix="polytag-nel-model-"))
ModelTrainer(linker, corpus).fine_tune(
    output, learning_rate=5e-5, decoder_learning_rate=1e-3, mini_batch_size=4, max_epochs=2
)

sentence = Sentence("Sam Houston went to Washington .")
sentence[0:2].add_label("nel", "?")
sentence[4:5].add_label("nel", "?")
linker.predict(sentence)
print(sentence)
