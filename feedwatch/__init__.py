"""feedwatch: public Telegram channels as a searchable, alerting record."""

__version__ = "0.1.0"
