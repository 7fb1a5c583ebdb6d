"""ONNX export of polytag models and prediction with onnxruntime.

``export_onnx(model, folder)`` writes the whole model (encoder and every head) as one ONNX graph plus
its settings and tokenizer; ``OnnxPredictor(folder).predict(sentences)`` labels Sentences with
onnxruntime exactly as ``model.predict`` does. ``compare_predictions`` measures the agreement of the two.
This package imports the models, never the other way round.
"""

from polytag.export.compare import Agreement, compare_predictions
from polytag.export.exporter import ExportError, export_onnx
from polytag.export.predictor import OnnxPredictor

__all__ = ["Agreement", "ExportError", "OnnxPredictor", "compare_predictions", "export_onnx"]
