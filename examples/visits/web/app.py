"""Counts visits in Redis and says which task answered: GET / returns JSON."""
import json
import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis

store = redis.Redis(host=os.environ.get("REDIS_HOST", "redis"), port=6379, socket_timeout=2)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            body = {"visits": store.incr("visits"), "servedBy": socket.gethostname()}
            status = 200
        except redis.RedisError as err:
            body, status = {"error": str(err)}, 503
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
