"""Device link: the serial and network transports, the protocol client, typed wire messages, ports, device clocks."""
