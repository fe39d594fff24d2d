"""Opens N SSE watch streams to discoveryd and holds them; prints when ready.

usage: watchers.py URL TOKEN N   (reads nothing; exits on stdin EOF)
"""
import asyncio
import resource
import sys


async def open_watch(host, port, token, opened):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write((f"GET /api/v1/services/watch HTTP/1.1\r\nHost: {host}\r\n"
                  f"Authorization: Bearer {token}\r\n\r\n").encode())
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"watch refused: {status!r}")
    opened.append((reader, writer))


async def main():
    url, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 1024), hard))
    host, port = url.split("//")[1].split(":")
    opened = []
    for start in range(0, count, 500):
        await asyncio.gather(*(open_watch(host, int(port), token, opened)
                               for _ in range(start, min(count, start + 500))))
    print(f"open {len(opened)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


asyncio.run(main())
