#!/usr/bin/python3
"""A TCP relay that holds back every chunk the server sends by DELAY_MS, like
the round trips to a distant SMTP relay. The cluster test puts it in front of
one mail worker, so that worker is always part-way through a batch when it is
killed: some of its claimed emails have left, the rest have not.

    slow_relay.py <listen port> <upstream port> <delay ms>   (127.0.0.1 only)
"""

import asyncio
import signal
import sys


async def pipe(reader, writer, delay_s):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if delay_s:
                await asyncio.sleep(delay_s)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main(listen_port, upstream_port, delay_s):
    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer, 0),
                             pipe(server_reader, client_writer, delay_s))

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print(f"slow-relay: 127.0.0.1:{listen_port} -> 127.0.0.1:{upstream_port}, {delay_s * 1000:.0f} ms per reply",
          flush=True)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) / 1000))
