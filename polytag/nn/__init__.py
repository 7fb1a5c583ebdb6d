"""Neural building blocks shared by the heads: CRF, BIOES tag coding, decoders, candidates."""

from polytag.nn.candidates import CandidateGenerator
from polytag.nn.crf import CRF
from polytag.nn.decoder import LinearDecoder, PrototypicalDecoder

__all__ = ["CRF", "CandidateGenerator", "LinearDecoder", "PrototypicalDecoder"]
