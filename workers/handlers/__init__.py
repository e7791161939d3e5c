"""The platform's own task and event handlers (imported by ``workers.load_handlers``)."""
