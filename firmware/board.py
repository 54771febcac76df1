"""ESP32 board layer: paced ADC1 sampling, status LED/buzzer, watchdog, USB serial I/O (only module using machine)."""

import gc
import select
import sys
import time

import machine
from codes import FAULT, IDLE, NET_DOWN, SPASM  # led() states, defined once in firmware/codes.py
from config import ADC1_PINS, LED_PIN  # this chip's (config.gpio): ADC2 stops working once WiFi is on

STORAGE_DIR = "/"  # littlefs root, the MicroPython ESP32 default filesystem
SAFE_BOOT_PIN = 0  # the BOOT button of a DevKit pulls GPIO0 low
MAX_READ = 128  # bytes taken from stdin per poll: keeps a flood of input from starving sampling
WDT_MS = 8000  # watchdog timeout: well above the longest flash write or `sync` pass


def unique_id():
    return "".join("%02x" % b for b in machine.unique_id())


def safe_boot(window_ms=1000, led_pin=LED_PIN):
    """True when the BOOT button (GPIO0) is pressed during the first second after boot: skip the app.

    GPIO0 is a strapping pin: held low *at* reset it starts the ROM bootloader instead, so the check runs
    after MicroPython is up, with the LED lit to show the window.
    """
    pin = machine.Pin(SAFE_BOOT_PIN, machine.Pin.IN, machine.Pin.PULL_UP)
    led = machine.Pin(led_pin, machine.Pin.OUT) if led_pin is not None else None  # (none on an ESP32-S3)
    if led is not None:
        led.value(1)
    t0 = time.ticks_ms()
    pressed = False
    while time.ticks_diff(time.ticks_ms(), t0) < window_ms and not pressed:
        pressed = pin.value() == 0
        time.sleep_ms(10)
    if led is not None:
        led.value(0)
    return pressed


class Board:
    """One ESP32 DevKit with 1-4 MyoWare sensors on ADC1 pins."""

    storage_dir = STORAGE_DIR
    safe_boot = staticmethod(safe_boot)

    def __init__(self, cfg):
        pins = [c["pin"] for c in cfg["channels"]]
        for p in pins:
            if p not in ADC1_PINS:
                raise ValueError("pin %d is not an ADC1 pin %r" % (p, ADC1_PINS))
        self.adcs = []
        for p in pins:
            # 11 dB attenuation spans ~0.15-2.45 V (read as 0..4095), the MyoWare output range on 3.3 V
            adc = machine.ADC(machine.Pin(p), atten=machine.ADC.ATTN_11DB)
            try:
                adc.block().init(bits=12)
            except AttributeError:  # older firmware without ADCBlock
                adc.width(machine.ADC.WIDTH_12BIT)
            self.adcs.append(adc)
        self.nch = len(pins)
        self.period_us = 1000000 // cfg["rate_hz"]
        self.next_us = time.ticks_us()
        self.overruns = 0
        self.dropped = 0
        self.samples = 0
        self.unique_id = unique_id()
        lp = cfg["led_pin"]
        self._led = machine.Pin(lp, machine.Pin.OUT) if lp is not None else None
        self._led_on = -1
        bz = cfg["buzzer_pin"]
        self._buzzer = machine.Pin(bz, machine.Pin.OUT) if bz is not None else None
        self._state = IDLE
        self._t0 = time.ticks_ms()
        self._buzz_until = self._t0
        # Opt-in: once started, the ESP32 watchdog cannot be stopped (it also resets a board left in the REPL)
        self._wdt = machine.WDT(timeout=WDT_MS) if cfg["watchdog"] else None
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._out = sys.stdout.buffer
        self._byte = bytearray(1)

    def read_block(self, bufs, n):
        """Fill bufs[c][0:n] with one sample per period; returns n.

        Pacing comes from ticks_us (no Timer: soft-IRQ ticks can be lost). Samples due while the app was busy are
        read at once (catch-up); a lag of more than one block counts an overrun and skips the missed samples.
        """
        period = self.period_us
        lag = time.ticks_diff(time.ticks_us(), self.next_us)
        if lag > period * n:
            skip = lag // period
            self.overruns += 1
            self.dropped += skip
            self.next_us = time.ticks_add(self.next_us, skip * period)
        adcs = self.adcs
        nch = self.nch
        for i in range(n):
            due = self.next_us
            while time.ticks_diff(due, time.ticks_us()) > 0:
                pass  # busy-wait: sleep_us would be as coarse as one FreeRTOS tick
            for c in range(nch):
                bufs[c][i] = adcs[c].read_u16() >> 4
            self.next_us = time.ticks_add(due, period)
        self.samples += n
        return n

    def ticks_ms(self):
        return time.ticks_ms()

    def poll_input(self):
        """Bytes waiting on USB serial, or None; never blocks (read only what poll says is there)."""
        got = None
        for _ in self._poll.ipoll(0):  # ipoll: no list allocated when nothing is waiting (every block)
            got = b""
            while len(got) < MAX_READ:
                if sys.stdin.buffer.readinto(self._byte) != 1:
                    break
                got += self._byte
                if not self._poll.poll(0):
                    break
        return got

    def write(self, data):
        # data: bytes or a memoryview of protocol.OUT, valid only during this call (the next line reuses it)
        self._out.write(data)

    def led(self, state):
        """Show the app state: slow blink idle, solid during a spasm, fast blink on a sensor fault."""
        now = time.ticks_ms()
        ms = time.ticks_diff(now, self._t0)  # blink phase (wraps harmlessly every 2**29 ms)
        if state == SPASM and self._state != SPASM:
            self._buzz_until = time.ticks_add(now, 150)  # short beep at each onset
        self._state = state
        if state == SPASM:
            on = 1
        elif state == FAULT:
            on = (ms // 100) & 1  # 5 Hz
        elif state == NET_DOWN:  # idle with Wi-Fi configured but not connected
            on = 1 if ms % 2000 < 100 or 300 <= ms % 2000 < 400 else 0  # two flashes every 2 s
        else:
            on = 1 if ms % 2000 < 100 else 0  # 0.1 s flash every 2 s
        if on != self._led_on and self._led is not None:
            self._led.value(on)
            self._led_on = on
        if self._buzzer is not None:
            # 0 < left <= 150: a beep set over 2**29 ms ago (~6.2 days on the ESP32) wraps to "positive", not on
            self._buzzer.value(1 if 0 < time.ticks_diff(self._buzz_until, now) <= 150 else 0)

    def feed_watchdog(self):
        if self._wdt is not None:
            self._wdt.feed()

    def reset(self):
        machine.reset()

    def mem_free(self):
        return gc.mem_free()
