"""The notebook bundle (File > Download as > Notebook bundle): see issue #3."""
