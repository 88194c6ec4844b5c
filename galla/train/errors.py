"""The trainer's own error (a config problem is :class:`galla.config.ConfigError`)."""


class TrainingError(RuntimeError):
    """The run cannot go on; the message says why and what was saved."""
