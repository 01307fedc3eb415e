"""The fuzz suite: seeded, bounded property-based requests (Hypothesis) against every REST
API of one real process-mode cloud with object storage (``conftest.target``).

APIs: identity (``/identity/v3``), compute (``/compute/v2.1``), image (``/image/v2``),
network (``/network/v2.0``), Swift (``/v1/AUTH_...``, ``/info``, ``/auth/v1.0``) and block
storage (``/volume/v3``, on the volume service's own port), plus random paths and methods
under each root. Requests are OpenStack-shaped bodies with one or
two fields gone wrong (types, numbers past 32 and 64 bits, odd strings, nesting, missing),
query strings (limits, markers, sort keys, filters) and headers (microversions, tokens, Swift
headers), sent as admin, as a member, with an unscoped token, a garbage one and none.

After every request (``invariants``): the status is below 500, no traceback, an error in the
API's own format, the service still answers an authenticated GET, and a refused create
leaves nothing listed; at the end no process of the cloud has logged an ERROR.

Bounded: a fixed ``max_examples`` per property, a deadline per example, ``derandomize`` (the
same requests every run) and no example database; traffic goes only to the test cloud's
loopback ports. Measured on the shared 2-core machine, cloud start included: 86 s when it
was quiet, 170-195 s with six helpers' tests running (load average 8-15); ``make fuzz``
runs it alone, ``make test`` with everything else.

Knobs for a longer hunt: ``OVERCAST_FUZZ_SCALE=5`` (five times the examples) and
``OVERCAST_FUZZ_SHRINK=0`` (report rough examples, skip shrinking).

Every input of issue 8's findings is in the strategies: lone surrogates in every body,
non-ASCII tokens and unknown storage policies on Swift, huge limits and counts.
"""
