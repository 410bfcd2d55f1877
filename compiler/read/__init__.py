"""Reading a stack file into data that remembers where every value came from."""
