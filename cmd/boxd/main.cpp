// Placeholder until the CLI tree lands.
int main() { return 0; }
