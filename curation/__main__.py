from curation.cli import main

main(prog_name="curation")
