"""Runs before main.py on every reset: keep ESP-IDF log lines off the serial link the protocol uses."""

import esp

esp.osdebug(None)
