"""A real aiohttp app whose /slow handler blocks the event loop with time.sleep(0.2) (argv[1] ==
"sync"), spins the CPU for 0.2 s in Python ("cpu") or awaits asyncio.sleep(0.2) ("async"); "/"
answers at once. Prints 'ready PORT'."""
import asyncio, socket, sys, time

from aiohttp import web

MODE = sys.argv[1] if len(sys.argv) > 1 else "sync"


def spin_for(seconds):
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1
    return n


async def slow_handler(request):
    if MODE == "sync":
        time.sleep(0.2)
    elif MODE == "cpu":
        spin_for(0.2)
    else:
        await asyncio.sleep(0.2)
    return web.Response(text="slow\n")


async def fast_handler(request):
    return web.Response(text="ok\n")


async def main():
    app = web.Application()
    app.add_routes([web.get("/slow", slow_handler), web.get("/", fast_handler)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    print("ready", sock.getsockname()[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
