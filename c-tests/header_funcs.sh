# header_funcs.sh: sourced by check_exports.sh and check_header.sh (not run by itself).
#
# header_functions HEADER: print, one per line and sorted, the name of every function DECLARED
# in the C header HEADER. How: drop comments, preprocessor lines, `extern "C" {` wrappers,
# __attribute__((...)) and the bodies of struct/union/enum definitions; split what is left at
# ';'; skip typedefs (function pointer types like gmp_fn) and static (inline) functions, which
# are never exported; in each remaining statement the identifier right before the first '(' is
# the function name ("int gmp_init(" -> gmp_init). A statement whose first '(' opens "(*" (a
# function pointer variable such as `void (*hook)(void);`) declares no function: skipped.
header_functions() {
    perl -0777 -ne '
        s{/\*.*?\*/}{ }gs;               # block comments
        s{//[^\n]*}{}g;                  # line comments
        s{^[ \t]*#[^\n]*}{}gm;           # preprocessor lines
        s{extern\s*"C"\s*\{}{}g;         # C++ linkage wrapper (its "}" is dropped below)
        s{__attribute__\s*\(\(.*?\)\)}{}gs;
        1 while s{\{[^{}]*\}}{ }gs;      # struct/union/enum bodies
        s{\}}{}g;
        for my $st (split /;/) {
            next if $st =~ /\b(typedef|static)\b/;
            next if $st =~ /^[^(]*\(\s*\*/s;
            next unless $st =~ /^[^(]*?\b([A-Za-z_]\w*)\s*\(/s;
            print "$1\n";
        }' "$1" | sort -u
}
