"""Clean candidate pairs and put them in front of annotators in Argilla. See `python setup_workspace.py --help`."""

from curation.cli import main

if __name__ == "__main__":
    main(["setup", *__import__("sys").argv[1:]], prog_name="setup_workspace.py")
