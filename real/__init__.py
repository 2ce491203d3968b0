"""The real LEAP hand behind the sim env's interface, and its virtual twin (``real.emulator``)."""
