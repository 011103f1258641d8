"""``python -m rram_sim.examples``: regenerate the shipped example bundles."""

from rram_sim.examples import write_examples

if __name__ == "__main__":
    for p in write_examples():
        print(f"wrote {p}")
