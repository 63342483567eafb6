#!/usr/bin/perl
# A stand-in for the benchmark host's resolver, for rspamd alone: answers every query with
# NXDOMAIN at once, as the host's resolver does for any name, but without its rate limit (it drops
# most of a burst of queries, and each dropped query made rspamd wait its 1 s timeout and resend).
# Usage: nxdomain.pl PORT (UDP, 127.0.0.1).
use strict;
use warnings;
use IO::Socket::INET;

my $port = shift // 29953;
my $socket = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $port, Proto => "udp")
    or die "nxdomain.pl: UDP 127.0.0.1:$port: $!\n";
while (1) {
    my $peer = $socket->recv(my $query, 4096);
    next unless defined $peer && length($query) >= 17;
    my ($id, $flags) = unpack("nn", $query);
    next if $flags & 0x8000;    # a response, not a query
    # The question: its name's labels up to the empty one, then type and class (4 bytes).
    my $end = 12;
    while ($end < length($query)) {
        my $label = ord(substr($query, $end, 1));
        $end += $label + 1;
        last if $label == 0;
    }
    $end += 4;
    next if $end > length($query);
    # QR; the query's opcode and RD; RA; RCODE 3 (NXDOMAIN). One question, no records.
    my $reply = pack("nnnnnn", $id, 0x8000 | ($flags & 0x7900) | 0x0080 | 3, 1, 0, 0, 0)
        . substr($query, 12, $end - 12);
    $socket->send($reply, 0, $peer);
}
