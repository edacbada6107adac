"""Reports: the quarterly reconciliation (季度对账) and the half-year evaluation (半年度评估).

Figures come from stored status reports only (``figures``); each document is written as
self-contained HTML, PDF, XLSX and (the evaluation) DOCX (``reconciliation``,
``evaluation``, on the shared ``writing``), recorded with the sha256 of each file, and put
into the outbox for the office, the leaders and, for a reconciliation, each unit's
liaison. ``schedule`` says on which working day each is written.
"""
