#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A stand-in for the Hugging Face Hub, for smolserve's tests (127.0.0.1 only,
started and stopped by the test itself). It serves model folders the way
huggingface.co serves repositories:

  GET /api/models/{repo}/revision/{rev}    {"id", "sha", "siblings": [{"rfilename"}], "gated"}
  GET|HEAD /{repo}/resolve/{rev}/{file}    small files: 200 with X-Repo-Commit, ETag (git blob
                                           sha1), Content-Length; large (LFS) files: 302 to a
                                           CDN-like URL on another host name (localhost) with
                                           X-Repo-Commit, X-Linked-Etag (sha256), X-Linked-Size
  GET /cdn/{sha256}                        the LFS file's bytes

and the Hub's errors: 401 + X-Error-Code RepoNotFound for an unknown repository,
404 RevisionNotFound, 404 EntryNotFound (with X-Repo-Commit), 401 GatedRepo for a
gated repository asked without its token. Faults per file for the tests: "drop"
(announce the whole length, send half, close), "bad_sha" (announce a wrong sha256),
"huge" (announce 1 PB for an LFS file), "slow" (wait before the body).

usage: mock_hub.py CONFIG.json    prints "PORT <n>" once listening.
CONFIG: {"repos": {"org/name": {"dir": path, "commit": 40 hex, "refs": {"main": commit},
         "token": null | "hf_...", "extra": {"path": "text"}, "faults": {"file": "drop"}}},
         "slow_seconds": 1.5}
GET /_mock/log answers every request so far (except /_mock ones) as JSON:
[{"method", "path", "authorization", "host"}].
"""
import hashlib
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

LFS_SUFFIXES = (".safetensors", ".bin", ".model", ".onnx", ".h5")

CONFIG = {}
LOG = []
LOG_LOCK = threading.Lock()


def repo_files(repo):
    """{path: bytes} of a repository: its folder's files plus "extra"."""
    files = {}
    root = repo["dir"]
    for dirpath, _, names in os.walk(root):
        for n in names:
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            with open(full, "rb") as f:
                files[rel] = f.read()
    for rel, text in repo.get("extra", {}).items():
        files[rel] = text.encode()
    return files


def git_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send(self, status, headers, body=b"", head_only=False):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head_only and body:
            self.wfile.write(body)

    def error(self, status, code, commit=None, message=None):
        headers = {"Content-Type": "application/json"}
        if code:
            headers["X-Error-Code"] = code
        if message:
            headers["X-Error-Message"] = message
        if commit:
            headers["X-Repo-Commit"] = commit
        body = json.dumps({"error": message or code or "error"}).encode()
        self.send(status, headers, body, self.command == "HEAD")

    def record(self):
        if self.path.startswith("/_mock/"):
            return
        with LOG_LOCK:
            LOG.append({"method": self.command, "path": self.path,
                        "authorization": self.headers.get("Authorization"),
                        "host": self.headers.get("Host")})

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.record()
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_mock/log":
            with LOG_LOCK:
                body = json.dumps(LOG).encode()
            return self.send(200, {"Content-Type": "application/json"}, body)
        if path.startswith("/api/models/"):
            return self.api(path[len("/api/models/"):])
        if path.startswith("/cdn/"):
            return self.cdn(path[len("/cdn/"):])
        parts = path.lstrip("/").split("/")
        if len(parts) >= 5 and parts[2] == "resolve":
            repo_id = parts[0] + "/" + parts[1]
            rev = urllib.parse.unquote(parts[3])
            return self.resolve(repo_id, rev, urllib.parse.unquote("/".join(parts[4:])))
        self.error(404, None, message="no such route")

    def lookup(self, repo_id, rev):
        """(repo, commit) or None after answering the error."""
        repo = CONFIG["repos"].get(repo_id)
        if repo is None:
            self.error(401, "RepoNotFound", message="Repository not found")
            return None
        commit = repo["commit"]
        if rev != commit and repo.get("refs", {}).get(rev) != commit:
            self.error(404, "RevisionNotFound", message="Invalid rev id: " + rev)
            return None
        return repo, commit

    def api(self, rest):
        if "/revision/" not in rest:
            return self.error(404, None, message="no such route")
        repo_id, rev = rest.split("/revision/", 1)
        found = self.lookup(repo_id, urllib.parse.unquote(rev))
        if found is None:
            return
        repo, commit = found
        info = {"id": repo_id, "modelId": repo_id, "sha": commit,
                "gated": "manual" if repo.get("token") else False, "private": False,
                "siblings": [{"rfilename": f} for f in sorted(repo_files(repo))]}
        self.send(200, {"Content-Type": "application/json"}, json.dumps(info).encode())

    def resolve(self, repo_id, rev, file):
        found = self.lookup(repo_id, rev)
        if found is None:
            return
        repo, commit = found
        token = repo.get("token")
        if token and self.headers.get("Authorization") != "Bearer " + token:
            return self.error(401, "GatedRepo",
                              message="Access to model %s is restricted." % repo_id)
        data = repo_files(repo).get(file)
        if data is None:
            return self.error(404, "EntryNotFound", commit=commit,
                              message="Entry not found")
        fault = repo.get("faults", {}).get(file)
        if file.endswith(LFS_SUFFIXES):
            sha = hashlib.sha256(data).hexdigest()
            announced = ("0" * 64) if fault == "bad_sha" else sha
            port = self.server.server_address[1]
            query = urllib.parse.urlencode({"repo": repo_id, "file": file})
            return self.send(302, {
                "Location": "http://localhost:%d/cdn/%s?%s" % (port, sha, query),
                "X-Repo-Commit": commit, "X-Linked-Etag": '"%s"' % announced,
                "X-Linked-Size": str(10**15 if fault == "huge" else len(data)), "ETag": '"%s"' % git_sha1(b"pointer " + data[:8]),
                "Content-Length": "0"}, b"", self.command == "HEAD")
        self.body({"X-Repo-Commit": commit, "ETag": '"%s"' % git_sha1(data),
                   "Content-Type": "application/octet-stream"}, data, fault)

    def cdn(self, rest):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        repo = CONFIG["repos"].get(query.get("repo", [""])[0])
        file = query.get("file", [""])[0]
        data = repo_files(repo).get(file) if repo else None
        if data is None or hashlib.sha256(data).hexdigest() != rest:
            return self.error(404, None, message="no such blob")
        self.body({"Content-Type": "application/octet-stream", "ETag": '"cdn-etag"'}, data,
                  repo.get("faults", {}).get(file))

    def body(self, headers, data, fault):
        if fault == "slow":
            time.sleep(CONFIG.get("slow_seconds", 1.5))
        if fault != "drop":
            return self.send(200, headers, data, self.command == "HEAD")
        headers["Content-Length"] = str(len(data))
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(2)


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a dropped connection ("drop" fault) is expected, not news


def main():
    global CONFIG
    with open(sys.argv[1]) as f:
        CONFIG = json.load(f)
    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
