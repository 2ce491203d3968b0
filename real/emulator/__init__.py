"""The virtual LEAP hand: a Dynamixel Protocol 2.0 bus emulator backed by the physics world."""
