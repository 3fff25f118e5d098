// airssys-osl command line (placeholder until the CLI lands in this session).
int main() { return 2; }
