"""A believable residence of meters: physics, faults, real payload formats, MQTT and database output."""
