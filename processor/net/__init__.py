"""DICOM networking: receiver (SCP), sender (SCU) and the durable delivery outbox."""
from processor.net.outbox import Destination, Outbox
from processor.net.scp import start_scp
from processor.net.scu import SendResult, send_files

__all__ = ["Destination", "Outbox", "SendResult", "send_files", "start_scp"]
