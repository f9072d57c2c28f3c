"""``python -m nbext_pkg install | uninstall | doctor``: the same as ``jupyter nbext_pkg``."""

from .app import main

if __name__ == "__main__":
    main()
