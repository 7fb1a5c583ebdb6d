"""The allow-list of model classes a model file may name.

A model file says which class to build by name (``config["class"]``). Loading looks that name up here and
nowhere else: a file cannot make polytag import a module path or build any other type.
"""

from __future__ import annotations

import importlib

from polytag.errors import ModelFileError, PolytagError

_MODEL_CLASSES: dict[str, type] = {}

# Modules whose import registers polytag's own model classes; imported on a miss so that loading works even
# when the caller has not imported polytag.models yet. A fixed list, never a name taken from a file.
_BUILTIN_MODULES = ("polytag.models",)


def register_model_class(cls: type) -> type:
    """Class decorator: allow model files to name ``cls`` (by ``cls.__name__``)."""
    name = cls.__name__
    known = _MODEL_CLASSES.get(name)
    if known is not None and known is not cls:
        same_definition = (known.__module__, known.__qualname__) == (cls.__module__, cls.__qualname__)
        if not same_definition:  # a reloaded module may register its class again; anything else is a clash
            raise PolytagError(
                f"model class name '{name}' is already registered by {known.__module__}.{known.__qualname__}"
            )
    _MODEL_CLASSES[name] = cls
    return cls


def get_model_class(name: str) -> type:
    """The registered class called ``name``; :class:`ModelFileError` for any other name."""
    if not isinstance(name, str) or not name:
        raise ModelFileError(f"the model file names no model class (got {name!r}); known: {_known()}")
    if name not in _MODEL_CLASSES:
        for module in _BUILTIN_MODULES:
            try:
                importlib.import_module(module)
            except ImportError:
                pass
    if name not in _MODEL_CLASSES:
        raise ModelFileError(f"unknown model class '{name}'; known: {_known()}")
    return _MODEL_CLASSES[name]


def registered_model_classes() -> dict[str, type]:
    """A copy of the allow-list, name to class."""
    return dict(_MODEL_CLASSES)


def _known() -> str:
    return ", ".join(sorted(_MODEL_CLASSES)) or "(none registered)"


def check_model_config(config: object) -> list[str]:
    """What is wrong with a model file's config, as messages (empty when nothing is).

    Checks the structure ``Model.load`` relies on before anything is built: the class (and every task's
    class in a multitask model) is on the allow-list, the model and embedding entries are JSON objects,
    and every encoder a head names exists. Used by ``polytag info`` to explain a damaged file.
    """
    if not isinstance(config, dict):
        return [f"the config is a {type(config).__name__}, not a JSON object"]
    problems: list[str] = []
    embeddings = config.get("embeddings", {})
    if not isinstance(embeddings, dict) or not all(isinstance(e, dict) for e in embeddings.values()):
        problems.append("the config's 'embeddings' is not an object of encoder configs")
        embeddings = {}
    heads: list[tuple[str, object, object]] = [("the model", config.get("class"), config.get("model"))]
    if config.get("class") == "MultitaskModel" and isinstance(config.get("model"), dict):
        tasks = config["model"].get("tasks")
        if not isinstance(tasks, list) or not tasks:
            problems.append("the multitask config has no list of 'tasks'")
        else:
            for index, task in enumerate(tasks):
                if not isinstance(task, dict):
                    problems.append(f"task {index} of the multitask config is not an object")
                    continue
                if not isinstance(task.get("task_id"), str):
                    problems.append(f"task {index} of the multitask config has no 'task_id' string")
                if task.get("class") == "MultitaskModel":
                    problems.append(
                        f"task {task.get('task_id', index)!s}: a MultitaskModel cannot be a task of a "
                        "MultitaskModel (each task is one head)"
                    )
                    continue
                heads.append((f"task {task.get('task_id', index)!s}", task.get("class"), task.get("model")))
    for where, name, model in heads:
        try:
            get_model_class(name)  # type: ignore[arg-type]
        except ModelFileError as error:
            problems.append(f"{where}: {error}")
        if not isinstance(model, dict):
            problems.append(f"{where}: the model config is missing or not a JSON object")
            continue
        encoder = model.get("embeddings")
        if isinstance(encoder, str) and encoder not in embeddings:
            problems.append(f"{where}: names encoder '{encoder}', which the config does not define")
    return problems
