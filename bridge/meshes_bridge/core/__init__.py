"""The sans-IO core of meshes-bridge.

Plain Python that runs unchanged on CPython, Pyodide and MicroPython: no I/O, no
clocks, no browser imports. The browser adapter feeds it inputs (`inputs`) with the
current time and carries out the actions (`actions`) it returns.
"""
