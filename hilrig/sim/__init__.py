"""Simulated boards that real flashing tools can talk to.

``esp32`` assembles a simulated ESP32-DevKitC: the reset circuit and boot ROM (``chip``), the
serial download protocol of the ROM and of esptool's flasher stub (``loader``, ``protocol``,
``slip``, ``regs``), its SPI flash (``flashmem``), the boot image check (``image``), the
MicroPython that a valid image boots (``app``, a bridged host VM), and the RFC 2217 server
through which esptool and hilrig reach its UART, DTR and RTS (``rfc2217_server``). See
docs/esp32-sim.md.
"""
