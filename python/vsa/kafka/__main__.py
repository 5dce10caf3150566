"""python -m vsa.kafka start|stop|status [--data-dir DIR] [--port PORT]"""

from vsa.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["kafka", *__import__("sys").argv[1:]]))
