"""Reports: the quarterly reconciliation (季度对账), the half-year evaluation (半年度评估) and
the annual blue book (青年发展蓝皮书).

Figures come from stored status reports and indicator readings only (``figures``,
``blue_book``); each document is written as self-contained HTML and PDF, with XLSX (the
reconciliation, the evaluation) and DOCX (the evaluation, the blue book), by
``reconciliation``, ``evaluation`` and ``blue_book`` on the shared ``writing``; recorded
with the sha256 of each file, and put into the outbox for the office, the leaders and,
for a reconciliation, each unit's liaison. ``schedule`` says on which working day the
quarterly and half-year documents are written.
"""
