"""Kafka in and out of casegrid. messages.py parses inbound reports and unit updates;
inbound.py applies a batch of them in one transaction with its inbox rows, dead letters
and next offsets, which store.py's recorders write in the events' own transaction (our
tables: inbox, offsets, dead letters, publish positions, parked events, failing parts);
outbound.py publishes every case event from the notification log; dead_letters.py
publishes the bounded dead letters; failures.py tells a passing failure from an item's
own and backs off; worker.py runs the three parts in one loop; status.py reports
positions, lag and parked items. (`kafka` inside these modules is the kafka-python
library: imports of our modules are absolute, `adapters.kafka.…`.)
"""
