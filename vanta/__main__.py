from vanta.cli import run

run()
