"""The classes behind ``pwrecovery.exceptions``, one module per family.

``base`` holds the root ``PwRecoveryError`` (message rendering through the
catalogs, pickling) and the wait every "try again later" error shares;
``input`` what a person typed and what the users catalog or the senders list
refused; ``access`` refused sign-ins and refused recoveries; ``mail`` the
sender accounts and delivery; ``environment`` the encryption key, the store and
the settings. Hosts import them from ``pwrecovery`` or ``pwrecovery.exceptions``,
never from here.
"""
