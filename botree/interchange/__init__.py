"""Event-stream codecs: nested values / JSON documents and parent-child tables."""
