"""The sign-in pages' words in French, keyed by the English the code and templates write.

Read by smart_auth.languages; a sentence with `{field}`s is found by the pattern of its English
text and keeps its values (a name, a number). Kept beside the code that writes the English, so
that a new sentence gets its French in the same change (tests/smart_auth/test_page_language.py
checks that every page shows no English left in French).
"""

FRENCH = {
    # base.html and the pages' titles
    "Carnet · your health record": "Carnet · votre dossier de santé",
    "Sign in": "Connexion",
    "Your code": "Votre code",
    "Allow access?": "Autoriser l'accès ?",
    "Your authorized apps": "Vos applications autorisées",
    "your authorized apps": "vos applications autorisées",
    "Your care team": "Votre équipe de soins",
    "Sign out": "Se déconnecter",
    # login.html
    "The app": "L'application",
    "asks to connect to your health record. Sign in first; you will then see what it asks for, "
    "and decide.": "demande à accéder à votre dossier de santé. Connectez-vous d'abord ; vous "
    "verrez ensuite ce qu'elle demande, et vous déciderez.",
    "Username": "Identifiant",
    "Password": "Mot de passe",
    "Continue": "Continuer",
    "Next, we will send you a 6-digit code by e-mail or text message.": "Nous vous enverrons "
    "ensuite un code à 6 chiffres par e-mail ou par SMS.",
    "Health professionals": "Professionnels de santé",
    "Sign in with {name}": "Se connecter avec {name}",
    # code.html
    "Enter your code": "Saisissez votre code",
    "We have sent you a 6-digit code {hint}. It is valid for 15 minutes and works only once.": (
        "Nous vous avons envoyé un code à 6 chiffres {hint}. Il est valable 15 minutes et ne "
        "sert qu'une fois."
    ),
    "We have sent you a 6-digit code. It is valid for 15 minutes and works only once.": (
        "Nous vous avons envoyé un code à 6 chiffres. Il est valable 15 minutes et ne sert "
        "qu'une fois."
    ),
    "by text message to the number ending in {digits}": "par SMS au numéro finissant par {digits}",
    "by e-mail to {address}": "par e-mail à {address}",
    "6-digit code": "Code à 6 chiffres",
    "Confirm": "Valider",
    "No code? Wait a minute, check your spam folder, or": "Pas de code ? Patientez une minute, "
    "regardez dans vos courriers indésirables, ou",
    "sign in again": "reconnectez-vous",
    "to receive a new one.": "pour en recevoir un nouveau.",
    # consent.html
    "Allow {app} to access your health record?": "Autoriser {app} à accéder à votre dossier de "
    "santé ?",
    "this app": "cette application",
    "the app": "l'application",
    "You are signed in as": "Vous êtes connecté(e) en tant que",
    "If you allow it,": "Si vous l'autorisez,",
    "will be able to:": "pourra :",
    "Nothing in your record (it asks for no data).": "Rien dans votre dossier (elle ne demande "
    "aucune donnée).",
    "You can withdraw this access at any time from": "Vous pouvez retirer cet accès à tout "
    "moment depuis",
    "Allow": "Autoriser",
    "Refuse": "Refuser",
    # apps.html
    "These apps can reach your health record because you allowed them to. Revoke any of them "
    "at any time.": "Ces applications peuvent accéder à votre dossier de santé parce que vous "
    "les y avez autorisées. Vous pouvez révoquer chacune d'elles à tout moment.",
    "Allowed on {date} at {time} (UTC). It may:": "Autorisée le {date} à {time} (UTC). Elle peut :",
    "Revoke {name}": "Révoquer {name}",
    "You have not authorized any app.": "Vous n'avez autorisé aucune application.",
    ": the professionals who may read your record.": " : les professionnels qui peuvent lire "
    "votre dossier.",
    "Done: this app can no longer reach your record.": "C'est fait : cette application ne peut "
    "plus accéder à votre dossier.",
    "This app had already lost its access.": "Cette application avait déjà perdu son accès.",
    # care_team.html
    "These professionals may read your health record because you, or their own software on "
    "your behalf, said so. Withdraw any of them at any time.": "Ces professionnels peuvent lire "
    "votre dossier de santé parce que vous l'avez dit, ou leur logiciel en votre nom. Vous "
    "pouvez retirer chacun d'eux à tout moment.",
    "Declared by their own software, saying you agreed, on {date}.": "Déclaré par son propre "
    "logiciel, indiquant votre accord, le {date}.",
    "Added by you, on {date}.": "Ajouté par vous, le {date}.",
    "Withdraw this access": "Retirer cet accès",
    "Nobody is in your care team.": "Personne n'est dans votre équipe de soins.",
    "Done: this access to your record is withdrawn.": "C'est fait : cet accès à votre dossier "
    "est retiré.",
    "This access had already been withdrawn.": "Cet accès avait déjà été retiré.",
    # message.html and the errors
    "Technical detail for the app's makers:": "Détail technique pour les auteurs de "
    "l'application :",
    "Go back to the page you came from": "Revenir à la page précédente",
    "Signed out": "Déconnexion",
    "You are signed out of Carnet.": "Vous êtes déconnecté(e) de Carnet.",
    "This form has expired": "Ce formulaire a expiré",
    "For your security, this form was refused: it was not sent from a page of this session. "
    "Go back, reload the page and try again.": "Pour votre sécurité, ce formulaire a été "
    "refusé : il n'a pas été envoyé depuis une page de cette session. Revenez en arrière, "
    "rechargez la page et réessayez.",
    "Not available": "Indisponible",
    "This server has no external identity provider.": "Ce serveur n'a pas de fournisseur "
    "d'identité externe.",
    "This page is for patients.": "Cette page est réservée aux patients.",
    "Nothing to approve": "Rien à autoriser",
    "No app is waiting for your approval.": "Aucune application n'attend votre autorisation.",
    "This page is out of date": "Cette page n'est plus à jour",
    "Go back to the app and start again.": "Revenez à l'application et recommencez.",
    "This app's request cannot be accepted": "La demande de cette application ne peut pas être "
    "acceptée",
    "This app is not known to Carnet, so it cannot connect to your health record. Nothing was "
    "shared.": "Cette application n'est pas connue de Carnet : elle ne peut pas accéder à votre "
    "dossier de santé. Rien n'a été partagé.",
    "This app asked to come back to an address it did not register, so Carnet stopped here. "
    "Nothing was shared.": "Cette application a demandé à revenir à une adresse qu'elle n'a pas "
    "déclarée : Carnet s'est arrêté là. Rien n'a été partagé.",
    "This app's request is incomplete or wrong, so Carnet stopped here. Nothing was shared.": (
        "La demande de cette application est incomplète ou erronée : Carnet s'est arrêté là. "
        "Rien n'a été partagé."
    ),
    # smart_auth.accounts and smart_auth.otp
    "The username or password is incorrect.": "L'identifiant ou le mot de passe est incorrect.",
    "Too many failed attempts. For your security, sign-in is paused for {minutes} minutes.": (
        "Trop de tentatives échouées. Pour votre sécurité, la connexion est suspendue pendant "
        "{minutes} minutes."
    ),
    "This code is incorrect. Check the last message you received and try again.": "Ce code est "
    "incorrect. Vérifiez le dernier message reçu et réessayez.",
    "This code is no longer valid. Please sign in again to receive a new code.": "Ce code n'est "
    "plus valable. Reconnectez-vous pour recevoir un nouveau code.",
    # smart_auth.external_idp
    "Sign-in did not complete": "La connexion n'a pas abouti",
    "{name} did not confirm who you are, or this sign-in expired. Go back to the app and start "
    "again.": "{name} n'a pas confirmé votre identité, ou cette connexion a expiré. Revenez à "
    "l'application et recommencez.",
    "No Carnet account for you yet": "Pas encore de compte Carnet pour vous",
    "{name} confirmed who you are, but no Carnet professional account is linked to your "
    "identity. Ask your Carnet administrator to link your account to your national "
    "identifier.": "{name} a confirmé votre identité, mais aucun compte professionnel Carnet "
    "n'y est lié. Demandez à votre administrateur Carnet de lier votre compte à votre "
    "identifiant national.",
    "Sign-in could not be verified": "La connexion n'a pas pu être vérifiée",
    "The answer from {name} could not be verified, so it was refused. Go back to the app and "
    "start again.": "La réponse de {name} n'a pas pu être vérifiée : elle a été refusée. "
    "Revenez à l'application et recommencez.",
    "Identity provider unavailable": "Fournisseur d'identité indisponible",
    "The professional identity provider cannot be reached right now. Try again later.": "Le "
    "fournisseur d'identité des professionnels est injoignable pour le moment. Réessayez plus "
    "tard.",
}
