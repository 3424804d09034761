// placeholder until the client is written
