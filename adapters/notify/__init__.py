"""Notifications outbound (通知): the SMS gateway, the Kafka topic, the worker."""
