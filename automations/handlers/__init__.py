"""The platform's own task and event handlers (imported by ``automations.load_handlers``)."""
