"""The offline model's provider name, apart from the model itself: naming it must not import litellm."""

#: the litellm custom provider of the deterministic offline model (``offline/<name>``)
OFFLINE_PROVIDER = "offline"
