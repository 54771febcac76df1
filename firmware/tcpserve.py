"""The serial line protocol on a TCP port: one host at a time (an authenticated one keeps its link), a
pre-shared token for commands that change state, non-blocking sockets polled between blocks (docs/wireless.md)."""

import errno
import select
import socket
import time

try:
    from . import protocol
except ImportError:
    import protocol

# Commands a client may send without the token when net.read_open is true. Everything else (config set,
# log clear, reboot, calibrate, and any command added later) needs `auth TOKEN` first.
READ_ONLY = ("hello", "ping", "status", "help", "config get", "sync", "stream env", "stream raw", "calibrate show")
OUT_CAP = 2048  # bytes waiting for a slow client (a hello fits twice); beyond that whole lines are dropped (seq gap)
MAX_READ = 256  # bytes read per poll, so a flood of input cannot starve sampling
AUTH_GAP_MS = 2000  # after a wrong token that address waits this long (slows guessing to 1800 an hour)
HELD_MAX = 8  # addresses held at once: with this many wrong tokens within 2 s, every new attempt waits
CAND_MS = 5000  # a connection made while a host is authenticated must send the token within this, or is closed
CAND_LINE = 96  # `auth TOKEN *XXXX` fits: all a waiting connection may send
_HUP = select.POLLHUP | select.POLLERR
_LATER = (errno.EAGAIN, errno.EINPROGRESS)


def _same(a, b):
    # compare without stopping at the first difference, so the reply time says nothing about the token
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= a[i] ^ b[i]
    return d == 0


def _addr_text(addr):
    if isinstance(addr, tuple):  # ESP32 port: ("192.168.1.20", 50412)
        return str(addr[0])
    try:  # unix port: a raw sockaddr
        ip = socket.sockaddr(addr)[1]  # type: ignore[attr-defined]
        return ".".join(str(b) for b in ip)
    except Exception:  # noqa: BLE001 - only used in a message
        return "?"


class TcpServer:
    """Listens on (ip, port) while Wi-Fi is up. Output is the app's whole message stream (write() is teed from
    the board's), so seq numbers, events and `sync` replies reach a TCP client exactly as a serial host."""

    def __init__(self, port, token, read_open):
        self.port = port
        self.token = token.encode()
        self.read_open = read_open
        self.ip = ""  # address listened on; "" = not listening (Wi-Fi down)
        self.ls = None
        self.cl = None
        self.peer = ""
        self.authed = False
        self._force = False  # write() forwards to an unauthorised client only its own refusals and errors
        self.poller = select.poll()
        self.reader = protocol.LineReader()
        self.out = bytearray(OUT_CAP)
        self.mv = memoryview(self.out)
        self.n = 0
        self.clients = 0  # connections accepted since boot
        self.refused = 0  # commands refused for want of the token since boot
        self.bad_tokens = 0  # wrong tokens since boot
        self.dropped = 0  # lines not sent because the client did not keep up
        # Wrong tokens hold their address: {peer: ticks_ms}. Entries live at most ~AUTH_GAP_MS (poll clears the
        # table once the newest is that old), so no stored tick is ever old enough for ticks_diff to wrap
        # (2**29 ms on the ESP32): a stale deadline would otherwise refuse the right token for ~6.2 days.
        self._held = {}
        self._held_at = time.ticks_ms()
        # A connection made while a host is authenticated waits here: it may only send `auth TOKEN`, which
        # hands it the link (the host's own reconnection after a Wi-Fi drop); anything else closes it.
        self.cand = None
        self.cand_peer = ""
        self._cand_reader = None
        self._cand_t0 = time.ticks_ms()
        self._to_cand = False  # write() also sends the line to the waiting connection (its own replies)

    # -- sockets -------------------------------------------------------------------------------------------
    def _listen(self, ip):
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(socket.getaddrinfo(ip, self.port)[0][-1])
            s.listen(1)
            s.setblocking(False)
        except OSError:
            s.close()
            raise
        self.ls = s
        self.poller.register(s, select.POLLIN)

    def _drop(self):
        c = self.cl
        if c is not None:
            self.cl = None
            try:
                self.poller.unregister(c)
            except (OSError, KeyError, ValueError):
                pass
            c.close()
        self.n = 0
        self.authed = False

    def _drop_cand(self):
        c = self.cand
        if c is not None:
            self.cand = None
            self._cand_reader = None
            try:
                self.poller.unregister(c)
            except (OSError, KeyError, ValueError):
                pass
            c.close()

    def close(self):
        self._drop()
        self._drop_cand()
        if self.ls is not None:
            try:
                self.poller.unregister(self.ls)
            except (OSError, KeyError, ValueError):
                pass
            self.ls.close()
            self.ls = None
        self.ip = ""

    def _accept(self):
        try:
            c, addr = self.ls.accept()  # type: ignore[union-attr]
        except OSError:
            return
        c.setblocking(False)
        self.clients += 1
        peer = _addr_text(addr)
        if self.cl is not None and self.authed:
            # An authenticated host keeps its link: the newcomer waits for its token (a host whose Wi-Fi
            # dropped reconnects this way and takes over its own half-open link). A held address, or a
            # table full of them, is closed at once without a word: no flood of error lines to the host.
            self._drop_cand()
            if peer in self._held or len(self._held) >= HELD_MAX:
                self.refused += 1
                c.close()
                return
            self.cand = c
            self.cand_peer = peer
            self._cand_reader = protocol.LineReader(CAND_LINE)
            self._cand_t0 = time.ticks_ms()
            self.poller.register(c, select.POLLIN)
            return
        # With no authenticated host a new client replaces the old one: a host whose Wi-Fi dropped leaves a
        # half-open connection the board cannot tell from a quiet one, and its reconnection must not wait.
        self._drop()
        self.cl = c
        self.peer = peer
        self.reader = protocol.LineReader()
        self.poller.register(c, select.POLLIN)

    # -- polled between blocks -----------------------------------------------------------------------------
    def poll(self, app, ip):
        """Accept, read and answer; ip is the Wi-Fi address to listen on ("" while the link is down)."""
        if self._held or self.cand is not None:
            self._expire(time.ticks_ms())
        if ip != self.ip:
            self.close()
            if ip:
                try:
                    self._listen(ip)
                    self.ip = ip
                except OSError:
                    return  # e.g. the address is not up yet: the next poll tries again
        if self.ls is None:
            return
        acc = rd = hup = cand = False
        for obj, ev in self.poller.ipoll(0):  # ipoll: nothing allocated when nothing is waiting
            if obj is self.ls:
                acc = True
            elif obj is self.cand:
                cand = True
            elif ev & _HUP:
                hup = True
            elif ev & select.POLLIN:
                rd = True
        if rd or hup:
            self._read(app)
        if cand:
            self._read_cand(app)
        if acc:
            self._accept()
        if self.n:
            self._flush()

    def _read(self, app):
        c = self.cl
        if c is None:
            return
        try:
            data = c.recv(MAX_READ)
        except OSError as e:
            if e.args and e.args[0] in _LATER:
                return  # nothing after all (a spurious wake-up)
            data = b""  # reset by the client
        if not data:  # closed by the client (or reset)
            self._drop()
            return
        self.reader.feed(data)
        for line in self.reader.lines():
            self._line(app, line)

    def _expire(self, now):
        # called every block while something is pending; both ticks are in the past, so a negative age
        # means over 2**29 ms (ticks_diff wrapped), not "not yet"
        if self._held and not 0 <= time.ticks_diff(now, self._held_at) < AUTH_GAP_MS:
            self._held.clear()
        if self.cand is not None and not 0 <= time.ticks_diff(now, self._cand_t0) < CAND_MS:
            self._drop_cand()

    def _read_cand(self, app):
        try:
            data = self.cand.recv(MAX_READ)  # type: ignore[union-attr]
        except OSError as e:
            if e.args and e.args[0] in _LATER:
                return
            data = b""
        if not data:
            self._drop_cand()
            return
        c = self.cand
        self._cand_reader.feed(data)  # type: ignore[union-attr]
        for line in self._cand_reader.lines():  # type: ignore[union-attr]
            if self.cl is c:  # it took over with the line before: the rest is the host's
                self._line(app, line)
                continue
            if self.cand is None:
                return
            words = []
            if not isinstance(line, tuple):
                try:
                    words = protocol.unseal(line)[0].split()  # without its ` *XXXX` check
                except ValueError:
                    pass
            self._to_cand = True
            try:
                if words and words[0].lower() == b"auth":
                    self._auth(app, words, True)
                else:
                    self.refused += 1
                    self._hold(self.cand_peer, time.ticks_ms())
                    app.error(None, "another host is connected: send `auth TOKEN` first to take over")
            finally:
                self._to_cand = False
            if self.cl is not c:
                self._drop_cand()  # one line only: its refusal, then closed

    def _hold(self, peer, now):
        self._held[peer] = now
        self._held_at = now

    def _line(self, app, line):
        if isinstance(line, tuple):  # too long / binary: the same error reply as on serial
            self._reply(app, line)
            return
        try:
            text = protocol.unseal(line)[0]  # without its ` *XXXX` check
        except ValueError:  # a wrong check: the app's own reply, as on serial
            self._reply(app, line)
            return
        words = text.split()
        if not words:
            self._reply(app, line)
            return
        first = words[0].lower()
        if first == b"auth":
            self._auth(app, words)
            return
        two = first + b" " + words[1].lower() if len(words) > 1 else b""
        name = two.decode() if two and two.decode() in protocol.NAMES else first.decode()
        if name not in protocol.NAMES:  # not a command at all: the app's usual `unknown command` error
            self._reply(app, line)
        elif self.authed or (self.read_open and name in READ_ONLY):
            app.handle(line)
        else:
            self.refused += 1
            self._force = True
            app.error(name, "%s needs the token over the network: send `auth TOKEN` first" % name)
            self._force = False

    def _reply(self, app, line):
        self._force = True
        try:
            app.handle(line)
        finally:
            self._force = False

    def _auth(self, app, words, cand=False):
        now = time.ticks_ms()
        peer = self.cand_peer if cand else self.peer
        self._force = not cand
        try:
            if peer in self._held or len(self._held) >= HELD_MAX:
                app.error("auth", "too many wrong tokens: wait 2 s")
            elif len(words) != 2:
                app.error("auth", "auth needs TOKEN")
            elif self.token and _same(words[1], self.token):
                if cand:
                    self._take_over()
                self.authed = True
                app.ok("auth")
            else:
                self.bad_tokens += 1
                self._hold(peer, now)
                app.error("auth", "wrong token from %s (%d since boot)" % (peer, self.bad_tokens))
        finally:
            self._force = False

    def _take_over(self):
        # the waiting connection had the token: it becomes the host, the old link (likely half-open) goes
        c, peer = self.cand, self.cand_peer
        self.cand = None
        self._cand_reader = None
        self._to_cand = False
        self._drop()
        self.cl = c
        self.peer = peer
        self.reader = protocol.LineReader()  # full-length lines from now on

    # -- output --------------------------------------------------------------------------------------------
    def write(self, data):
        """One protocol line for the client: sent now if the socket takes it, else kept (up to OUT_CAP)."""
        if self._to_cand and self.cand is not None:
            try:  # a short reply to a waiting connection: best effort, never queued
                self.cand.send(data)
            except OSError:
                pass
        if self.cl is None or not (self.authed or self.read_open or self._force):
            return
        k = len(data)
        if self.n + k > OUT_CAP:
            self.dropped += 1  # whole lines only: a partial line would corrupt the stream
            return
        self.mv[self.n:self.n + k] = data
        self.n += k
        self._flush()

    def _flush(self):
        c = self.cl
        if c is None:
            self.n = 0
            return
        try:
            sent = c.send(self.mv[:self.n])
        except OSError as e:
            if e.args and e.args[0] in _LATER:  # the socket is full: send the rest later
                return
            self._drop()
            return
        if sent is None:
            return
        if sent < self.n:
            self.mv[0:self.n - sent] = self.mv[sent:self.n]
        self.n -= sent
