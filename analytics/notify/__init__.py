"""Alert notifications: plain-words messages and their delivery by e-mail, webhook and MQTT.

``messages`` builds the texts and the JSON payload (pure); ``email``, ``webhook`` and ``mqtt``
each send one message over one channel; ``outbox`` takes due rows of ``alert_notification``
and delivers them once, with retries and back-off. The scheduler calls
:func:`analytics.notify.outbox.deliver_pending` every minute.
"""
